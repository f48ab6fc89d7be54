from qa import UserError


class EvalError(UserError):
    """A reference set, results file or eval option that cannot be used as given."""
