"""ztctl: reach Kubernetes clusters over a Zero Trust network from a laptop."""

__version__ = "0.1.0"
