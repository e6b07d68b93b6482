"""Send email over SMTP with the standard library (smtplib): the worker's only way out to mail."""
