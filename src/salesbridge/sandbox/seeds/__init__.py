"""Seed data of the sandbox: ``--seed demo`` (a believable sales organization) and ``--seed scale:N`` (volume)."""
