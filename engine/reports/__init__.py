"""Reading the campaign for people: case views, the dashboard's figures and page, the ledger
as files. Read-only."""
