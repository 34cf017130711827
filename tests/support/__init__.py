"""Test helpers shared by the login and credential suites (never imported by ztctl)."""
