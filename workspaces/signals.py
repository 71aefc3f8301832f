"""Signals other apps listen to, so this lower layer never imports them."""

from django.dispatch import Signal

# Sent after the commit that changed a workspace's Email Log retention; kwargs: workspace, days (None: forever).
email_log_retention_changed = Signal()
