"""Incorrect: the REPL evaluates "quit" instead of stopping on it."""

import re

TOKEN = re.compile(r"\s*(?:(\d+)|(.))")


class CalculatorException(Exception):
    """Raised for input the calculator cannot evaluate."""

    def __init__(self, problem):
        super().__init__(problem)
        self.problem = problem

    def __str__(self):
        return f"cannot evaluate: {self.problem}"


class Calculator:
    """Evaluates + - * / with precedence, parentheses and unary minus, by recursive descent."""

    def tokens(self, text):
        found = []
        for number, other in TOKEN.findall(text.strip()):
            if number:
                found.append(int(number))
            elif other in "+-*/()":
                found.append(other)
            else:
                raise CalculatorException(f"unknown character {other!r}")
        return found

    def eval(self, text):
        self._tokens, self._at = self.tokens(text), 0
        value = self._sum()
        if self._at != len(self._tokens):
            raise CalculatorException(f"unexpected {self._tokens[self._at]!r}")
        return value

    def _peek(self):
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self):
        token = self._peek()
        if token is None:
            raise CalculatorException("the expression ends too early")
        self._at += 1
        return token

    def _sum(self):
        value = self._product()
        while self._peek() in ("+", "-"):
            value = value + self._product() if self._take() == "+" else value - self._product()
        return value

    def _product(self):
        value = self._factor()
        while self._peek() in ("*", "/"):
            value = value * self._factor() if self._take() == "*" else value / self._factor()
        return value

    def _factor(self):
        token = self._take()
        if token == "-":
            return -self._factor()
        if token == "(":
            value = self._sum()
            if self._take() != ")":
                raise CalculatorException("missing ')'")
            return value
        if isinstance(token, int):
            return token
        raise CalculatorException(f"expected a number, got {token!r}")

    def read(self):
        return input("> ")

    def loop(self):
        """Print the value of each line until the line is 'quit' (or the input ends)."""
        try:
            line = self.read()
            while True:
                print(self.eval(line))
                line = self.read()
        except EOFError:
            pass


if __name__ == "__main__":
    Calculator().loop()
