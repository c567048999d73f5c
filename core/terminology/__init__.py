"""Code systems shared by the domains: geography, tumour types, staging, nomenclatures."""
