"""Wire emulators for stores that cannot run offline (Alibaba OSS, Huawei OBS), as real HTTP processes.

``core`` holds the dialect-neutral parts; ``oss`` (and ``obs``) speak one store's dialect on top of it.
"""
