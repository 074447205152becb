"""Click commands of the `styleinv-data` CLI: thin layers over library functions."""
