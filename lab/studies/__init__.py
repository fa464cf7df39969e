"""The studies: one module per study, each declaring its `Study(...)` (arms, texts, checks,
observation questions and answers, views, sidebar group, URL parameters), and the parts they
share (the Study type, the seed-spread rule, verdict assembly, prose helpers, the registry)."""
