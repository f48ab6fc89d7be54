"""The eval suite: reference questions in, per-question results, aggregated metrics and a report out."""
