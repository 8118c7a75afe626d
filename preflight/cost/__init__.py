"""The monthly cost of a stack, estimated offline from the preflight's recording and the committed price table.

`prices` is the table (ap-northeast-1, USD, each figure with its source and date), `estimate` turns
registrations and the usage assumptions of `settings.cost` into priced lines, `report` renders them and
the savings ratios, and `cli` is `python -m preflight cost`. Importing this package starts nothing: the
policy pack imports `estimate` to check the budget on the resources the engine sends it.
"""
