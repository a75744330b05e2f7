"""Huawei Cloud OBS through esdk-obs-python, in its native signature or in SigV4/SigV2.

``backend`` is the Backend; ``ops`` holds the bucket and object operations, ``multipart`` the multipart
ones, ``versions`` OBS's versioning; ``wire`` translates headers and XML; ``body``
bridges request bodies to the SDK; ``errors`` maps the SDK's results onto the contract's errors.
Importing this package imports no SDK: the configuration validates without esdk-obs-python.
``settings`` holds its options for the configuration, and imports nothing of the backend.
"""
