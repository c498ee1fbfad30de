"""Member cities write in: the contribution form, its store, the pictures made fit for an e-mail, moderation."""
