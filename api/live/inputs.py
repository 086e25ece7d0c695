"""No inputs: a subscription takes only the cursor to resume after."""
