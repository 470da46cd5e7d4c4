"""Disclosure control for aggregates answered to callers who may not read the fields
they use: the cell-key method (as the ABS TableBuilder publishes flexible tables).

`ptable` builds the perturbation table: for a cell's true count and its cell key (a
number in [0, 1) that depends only on which records the cell holds), the noise to add.
The same records always get the same noise, so re-asking or rephrasing averages nothing
away, and every difference of two answers carries noise.
"""
