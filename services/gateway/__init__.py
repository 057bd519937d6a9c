"""The gateway: Envoy's ext_authz server, the public usage method and the admin API."""
