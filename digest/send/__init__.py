"""Sending a built letter: SMTP, the send journal, recipients, personal copies, export to an e-mail service."""
