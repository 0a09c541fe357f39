"""Salesforce -> Accord's canonical tables.

Modules: ``settings`` (what is read, configuration, ``credential_status``),
``client`` (the only module that imports simple-salesforce: login, queries,
Bulk API 2.0, limits, errors), ``mapping`` (pure: raw records -> canonical
rows), ``sync`` (the resumable sync), ``command`` (``python cli.py sync salesforce``).

What a page needs::

    from connectors.salesforce import SalesforceConfig, SalesforceError, credential_status
    from connectors.salesforce.sync import sync

    status = credential_status()                 # configured? masked client id and secret
    summary = sync(engine, progress=callback, config=SalesforceConfig.from_settings())

Names are imported on first use, so ``cli.py`` stays quick to start.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SalesforceConfigError": "client",
    "SalesforceError": "client",
    "SalesforceLimitError": "client",
    "CredentialStatus": "settings",
    "FieldChoices": "settings",
    "SalesforceConfig": "settings",
    "credential_status": "settings",
    "ObjectCounts": "sync",
    "SyncSummary": "sync",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    return getattr(module, name)
