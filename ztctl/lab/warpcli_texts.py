"""What the stand-in ``warp-cli`` prints, era by era: messages, mode names, the commands each
era knows and its recorded ``--help`` texts (see ``docs/warp.md``)."""

from __future__ import annotations

JSON_ERAS = frozenset({"2025", "2026"})

NO_DAEMON = "Unable to connect to the CloudflareWARP daemon: No such file or directory (os error 2)"
TOS_NO_TTY = (
    "Please accept the WARP Terms of Service by running this command in a TTY "
    "or by passing the --accept-tos flag."
)
TOS_PROMPT = (
    "NOTICE:\n\n"
    "Cloudflare only collects information necessary to provide and improve the WARP client.\n"
    "You can find the Terms of Service at https://www.cloudflare.com/application/terms/ and\n"
    "the Privacy Policy at https://www.cloudflare.com/application/privacypolicy/\n\n"
    "Accept Terms of Service and Privacy Policy? [y/N] "
)
API_UNREACHABLE = "Error: Failed to communicate with the WARP API."
NOT_CONNECTED = "WARP is not connected."
NOT_AUTHORIZED = "Error: Operation not authorized in this context"  # unconfirmed
CLI_MODES = ("warp", "doh", "warp+doh", "dot", "warp+dot", "proxy", "tunnel_only")

# `Mode:` text per mode (DoT and posture-only spellings are unconfirmed).
MODE_TEXT = {
    "warp": "Warp",
    "warp+doh": "WarpWithDnsOverHttps",
    "warp+dot": "WarpWithDnsOverTls",
    "doh": "DnsOverHttps",
    "dot": "DnsOverTls",
    "tunnel_only": "TunnelOnly",
    "postureonly": "PostureOnly",
}
# `operation_mode` in `--json settings` ("warp" is recorded; the rest follow it).
MODE_JSON = {
    "warp": "warp",
    "warp+doh": "warp_doh",
    "warp+dot": "warp_dot",
    "doh": "doh",
    "dot": "dot",
    "proxy": "proxy",
    "tunnel_only": "tunnel_only",
    "postureonly": "posture_only",
}

# Old names and what replaced them.
RENAMED = {
    "account": "registration show",
    "register": "registration new",
    "teams-enroll": "registration new",
    "teams-enroll-token": "registration token",
    "set-mode": "mode",
    "delete": "registration delete",
    "get-organization": "registration organization",
    "get-excluded-routes": "tunnel ip list",
    "add-excluded-route": "tunnel ip add",
    "remove-excluded-route": "tunnel ip remove",
    "warp-stats": "tunnel stats",
}
BASE_COMMANDS = frozenset({"connect", "disconnect", "status", "settings", "help"})
NEW_COMMANDS = frozenset({"registration", "mode", "tunnel"})
# Commands per era, and the deprecated ones that print a warning first.
ERA_COMMANDS = {
    "2023": BASE_COMMANDS | frozenset(RENAMED),
    "2024": BASE_COMMANDS
    | NEW_COMMANDS
    | frozenset({"account", "register", "set-mode", "delete", "get-organization"}),
    "2025": BASE_COMMANDS | NEW_COMMANDS | frozenset({"set-mode"}),
    "2026": BASE_COMMANDS | NEW_COMMANDS,
}
ERA_WARNS = {
    "2023": frozenset(),
    "2024": frozenset({"account", "register", "set-mode", "delete", "get-organization"}),
    "2025": frozenset({"set-mode"}),
    "2026": frozenset(),
}

HELP_2024 = """\
Usage: warp-cli [OPTIONS] <COMMAND>

Commands:
  connect               Maintain a connection whenever possible
  debug                 Debugging commands
  disconnect            Disconnect the client
  dns                   Configure DNS settings
  mdm                   MDM configs
  mode                  Set the client's general operating mode
  override              Allow temporary overrides of administrative settings
  proxy                 Configure proxy mode settings
  registration          Registration settings
  settings              Show or alter general application settings
  status                Return the current connection status
  trusted               Configure trusted networks where the client will be automatically disabled (Consumer only)
  tunnel                Configure tunnel settings
  vnet                  Get or specify connected virtual network
  generate-completions  Generate completions for a given shell and print to stdout
  help                  Print this message or the help of the given subcommand(s)

Options:
  -l, --listen      Listen for status changes and DNS logs (if enabled)
      --accept-tos  Accept the Terms of Service agreement
  -v, --verbose...  Enable verbose output. Multiple "v"s adds more verbosity
  -h, --help        Print help
  -V, --version     Print version
"""  # noqa: E501  (recorded 2024.2.62 text)

HELP_2025 = """\
Usage: warp-cli [OPTIONS] <COMMAND>

Commands:
  certs                 Print all account certificates installed on the device to stdout
  connect               Maintain a connection whenever possible
  connector             Register a WARP Connector
  debug                 Debugging commands
  disconnect            Disconnect the client
  dns                   Configure DNS settings
  mdm                   MDM configs
  mode                  Set the client's general operating mode
  override              Allow temporary overrides of administrative settings
  proxy                 Configure proxy mode settings
  registration          Registration settings
  settings              Show or alter general application settings
  stats                 Display statistics for Cloudflare WARP
  status                Return the current connection status
  target                Manage targets
  trusted               Configure trusted networks where the client will be automatically disabled (Consumer only)
  tunnel                Configure tunnel settings
  vnet                  Get or specify connected virtual network
  generate-completions  Generate completions for a given shell and print to stdout
  help                  Print this message or the help of the given subcommand(s)

Options:
  -l, --listen                 Listen for status changes and DNS logs (if enabled)
      --accept-tos             Accept the Terms of Service agreement
  -v, --verbose...             Enable verbose output. Multiple "v"s adds more verbosity
  -t, --timeout <IPCTIMEOUT>   Timeout (in seconds) before IPC channel is considered hung
  -j, --json                   Pretty print output as json
      --no-paginate            Disable automatic pagination
  -h, --help                   Print help
  -V, --version                Print version
"""  # noqa: E501  (2024.2.62 text plus the 2025 additions)

HELP_2023 = """\
Usage: warp-cli [OPTIONS] <COMMAND>

Commands:
  register               Registers with the WARP API, will replace any existing registration
  teams-enroll           Enroll with Cloudflare for Teams
  teams-enroll-token     Complete enrollment with a token from the Teams sign-in page
  delete                 Deletes current registration
  connect                Maintain a connection whenever possible
  disconnect             Disconnect the client
  status                 Return the current connection status
  account                Display the account associated with the current registration
  get-organization       Get the name of the Teams organization
  set-mode               Set the client's general operating mode
  get-excluded-routes    Get the list of excluded IP ranges
  add-excluded-route     Add an excluded IP range
  remove-excluded-route  Remove an excluded IP range
  warp-stats             Retrieve the stats for the current WARP connection
  settings               Retrieve the current application settings
  help                   Print this message or the help of the given subcommand(s)

Options:
  -l, --listen      Listen for status changes and DNS logs (if enabled)
      --accept-tos  Accept the Terms of Service agreement
  -v, --verbose...  Enable verbose output. Multiple "v"s adds more verbosity
  -h, --help        Print help
  -V, --version     Print version
"""  # unrecorded: the 2023.3.398 list of old names, in the 2024 layout

HELP = {"2023": HELP_2023, "2024": HELP_2024, "2025": HELP_2025, "2026": HELP_2025}
