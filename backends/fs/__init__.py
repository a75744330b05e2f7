"""The embedded default backend: buckets as directories under one root on the local filesystem.

``backend`` is the Backend; ``keys`` maps keys to paths, ``format`` is the one-file object format
(data, record, footer) published by one rename, ``listing`` walks keys in S3 order, ``multipart`` keeps
parts on disk, ``io`` runs the blocking file calls off the event loop.
``settings`` holds its options for the configuration, and imports nothing of the backend.
"""
