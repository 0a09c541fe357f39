"""HubSpot -> Accord's canonical tables.

Modules: ``settings`` (what is read, limits, configuration, ``token_status``),
``client`` (the only module that imports hubspot-api-client: pacing, retries,
errors), ``mapping`` (pure: raw records -> canonical rows), ``sync`` (the
resumable sync loop), ``command`` (``python cli.py sync hubspot``).

What a page needs::

    from connectors.hubspot import HubSpotAuthError, HubSpotConfig, HubSpotError, token_status
    from connectors.hubspot.sync import sync

    status = token_status()                      # configured? from where? masked token
    config = HubSpotConfig.from_settings()       # token, address, limits: read from the settings here only
    summary = sync(engine, progress=callback, config=config)  # SyncSummary; raises HubSpotError

Names are imported on first use, so ``cli.py`` stays quick to start. (``sync``
is not re-exported here: the name belongs to the ``sync`` submodule.)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "HubSpotAuthError": "client",
    "HubSpotConfigError": "client",
    "HubSpotError": "client",
    "HubSpotRequestError": "client",
    "HubSpotUnavailableError": "client",
    "HubSpotConfig": "settings",
    "PropertyChoices": "settings",
    "TokenStatus": "settings",
    "token_status": "settings",
    "ObjectCounts": "sync",
    "SyncSummary": "sync",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    return getattr(module, name)
