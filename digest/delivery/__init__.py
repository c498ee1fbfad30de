"""Delivery: the personal copies, SMTP, the send journal and the export to an e-mail service."""
