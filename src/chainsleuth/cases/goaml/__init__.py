"""goAML 5.0.2 suspicious-transaction reports: configuration, transliteration, XML builder, validation, filing."""
