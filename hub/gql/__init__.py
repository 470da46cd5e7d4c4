"""The GraphQL layer: the schema generated from the catalog (`schema`, `dataset_types`,
`static`, `reserved`), one request's document (`service`: parse, validate, execute;
`fast_path` for the everyday shape), and the steps each dataset field takes
(`pipeline`: plan, decide, purpose, fetch, note, write), which call the policy, the
ledger and the sources. Translating between GraphQL and plans is `translate`, `match`,
`aggregate` and `answer`; `step_cache` keeps a cached document's per-field work.
"""
