"""Channel connectors: Rasa's input channels, hardened for wallet users."""
