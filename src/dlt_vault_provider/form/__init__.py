"""The catalog registration form (Starlette + Jinja2). Imports the web framework."""

from .app import create_app

__all__ = ["create_app"]
