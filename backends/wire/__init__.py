"""S3 wire facts both sides use, the gateway's front end and the provider backends alike: checksums,
ETags, XML element helpers and the classification of store errors. Pure code, no I/O; ``gateway``
imports it, and it imports nothing of ``gateway`` (the layering only goes that way).
"""
