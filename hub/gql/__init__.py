"""The GraphQL layer: the schema generated from the catalog (`schema`, `types`,
`static`, `reserved`), one request's document (`run`: parse, validate, execute; `fast`
for the everyday shape), and the steps each dataset field takes (`pipeline`: plan,
decide, purpose, fetch, note, write), which call the policy, the ledger and the
sources. Translating between GraphQL and plans is `translate`, `ops` and `shape`.
"""
