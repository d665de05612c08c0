"""salesbridge: a bridge between a sales-prospecting workspace and Microsoft Dynamics 365."""

__version__ = "0.1.0"
