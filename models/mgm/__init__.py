"""mgm-tiny: a miniature Mini-Gemini trained on the synthetic world of shared/world/SPEC.md."""
