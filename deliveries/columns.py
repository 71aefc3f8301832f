"""The 9 columns of a Delivery Log table, in SPEC §15's order: (name, type, attribute of Delivery)."""

DELIVERY_LOG_TABLE_NAME = "Delivery Log"

DELIVERY_LOG_COLUMNS = (
    ("Created At", "Date", "created_at"),
    ("Event", "Text", "event_type"),
    ("Event ID", "Text", "event_id"),
    ("Status", "Text", "status"),
    ("Attempts", "Number", "attempts"),
    ("Response", "Text", "response"),
    ("Error", "Text", "error"),
    ("Next Attempt At", "Date", "next_attempt_at"),
    ("Email ID", "Text", "email_id"),
)
