"""The 9 columns of a Document Log table, in §14's order: (name, type, attribute of Document)."""

DOCUMENT_LOG_TABLE_NAME = "Document Log"

DOCUMENT_LOG_COLUMNS = (
    ("Generated At", "Date", "generated_at"),
    ("Template ID", "Text", "template_id"),
    ("Filename", "Text", "filename"),
    ("Format", "Text", "format"),
    ("Status", "Text", "status"),
    ("Size", "Number", "size"),
    ("Source", "Text", "source"),
    ("Error", "Text", "error"),
    ("Email ID", "Text", "email_id"),
)
