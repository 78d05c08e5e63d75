"""The SMTP sink the tests deliver to: the package's development sink (ticketing_app/devmail.py)."""

from ticketing_app.devmail import SmtpSink

__all__ = ["SmtpSink"]
