"""MinIO and any S3-compatible store, through minio-py.

``backend`` is the Backend; ``client`` extends minio-py with streamed bodies; ``upload`` sends single
and multipart uploads; ``wire`` translates headers and XML; ``errors`` maps the store's errors onto the
contract's. Importing this package imports no SDK: the configuration validates without minio.
``settings`` holds its options for the configuration, and imports nothing of the backend.
"""
