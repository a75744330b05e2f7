"""Alibaba Cloud OSS through oss2.

``backend`` is the Backend; ``support`` holds oss2's shapes: header translation, error mapping and the
bridge of request bodies. Importing this package imports no SDK: the configuration validates without oss2.
``settings`` holds its options for the configuration, and imports nothing of the backend.
"""
