"""The 13 columns of an Email Log table, in order: (name, type, attribute of EmailLogEntry).

Plain data, so the data migration can use it as well as the services.
"""

EMAIL_LOG_TABLE_NAME = "Email Log"

EMAIL_LOG_COLUMNS = (
    ("Sent At", "Date", "sent_at"),
    ("To", "Text", "to"),
    ("From", "Text", "from_address"),
    ("Subject", "Text", "subject"),
    ("Status", "Text", "status"),
    ("Provider", "Text", "provider"),
    ("Message ID", "Text", "message_id"),
    ("CC", "Text", "cc"),
    ("BCC", "Text", "bcc"),
    ("Template ID", "Text", "template_id"),
    ("Source", "Text", "source"),
    ("Error", "Text", "error"),
    ("Attachments", "Number", "attachment_count"),
)
