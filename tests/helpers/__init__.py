"""Shared test helpers, one place for every layer of the suite: real processes (``procs``), upload bodies
(``bodies``), botocore-signed requests (``signing``), real clients (``clients``), the in-process gateway
(``inproc``), the scripted fake backend for the composites (``fake_backend``), fault injection
(``faults``, ``flaky_proxy``) and the store processes of the end-to-end tests (``stores``, ``multi``).

Test modules import from here, never from one another or from a conftest.
"""
