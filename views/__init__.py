"""One view per page: every figure, table, sentence and chart a page shows, computed in one pure function.

A page draws its view and nothing else; ``cli.py figures`` prints the same
views as data. Views are built only on the analytics core (evaluate,
follow-up, funnel, wording, charts): page -> view field -> metric.
"""
