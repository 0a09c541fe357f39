"""Agreements: the shipped default agreement (sales-marketing.yaml) and the glue that saves and reads versions.

:mod:`agreements.store` is used by the Agreement page and by ``cli.py agreement``
(:mod:`agreements.command`).
"""
