"""Incomplete: only "a op b" with spaces around the operator, and "/" multiplies."""


class CalculatorException(Exception):
    """Raised for input the calculator cannot evaluate."""


class Calculator:
    def eval(self, text):
        left, operator, right = text.split()
        a, b = int(left), int(right)
        if operator == "+":
            return a + b
        if operator == "-":
            return a - b
        if operator in ("*", "/"):
            return a * b
        raise CalculatorException(f"unknown operator {operator}")

    def read(self):
        return input("> ")

    def loop(self):
        line = self.read()
        while line != "quit":
            print(self.eval(line))
            line = self.read()


if __name__ == "__main__":
    Calculator().loop()
