"""What every mail digest sends shares: the secret and what it signs (digest.mail.signing), the list's identity
and the sender's domain (digest.mail.identity). The letter's copies, the confirmation mails and the returns all
read them from here; nothing here sends."""
