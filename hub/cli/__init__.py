"""The `hub` command: `main` holds the serving commands (`serve`, `demo`, `check`) and
the entry point; `admin` the store's (`clients`, `audit`, `migrate`, `policy`);
`common` the options, the settings and the catalog, policy and store checks they share.
"""
