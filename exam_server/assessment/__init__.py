"""The SKB with several assessors on the server (issue 19): the REST endpoints
(``api.ENDPOINTS``) and the service they call; the rules are ``assessment``'s."""
