"""Backends over backends, each a Backend itself so they stack: the router (client bucket → backend,
remote bucket and key prefix), retry, breaker, fallback and mirror. ``forwarding`` is the base that
passes every operation on; ``streams`` tees and copies bodies between members. A composite never knows
which provider it wraps.
"""
