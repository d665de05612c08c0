"""The sandbox's Entra-compatible identity provider: client credentials, access tokens, and their endpoints."""
