"""Who may do what with which field, and what a plan may do after the decisions.

`decisions` loads `policies/` (Casbin's model and rules, plus one rule per OPD for its
own datasets), reloads it when the files change and answers `decide(subject, pairs)`
from a cache; `index` compiles the shipped model's rules into lookups that give
Casbin's answers; `access` lists the (object, action) pairs a plan touches and
checks or trims the plan by the decisions. Nothing here reads a source or writes the
audit log.
"""
