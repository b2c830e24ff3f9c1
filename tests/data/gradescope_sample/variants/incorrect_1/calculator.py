"""Incorrect: evaluates left to right, ignoring precedence and parentheses; needs spaces between tokens."""


class CalculatorException(Exception):
    """Raised for input the calculator cannot evaluate."""


class Calculator:
    def eval(self, text):
        tokens = text.split()
        value = int(tokens.pop(0))
        while tokens:
            operator, operand = tokens.pop(0), int(tokens.pop(0))
            if operator == "+":
                value += operand
            elif operator == "-":
                value -= operand
            elif operator == "*":
                value *= operand
            elif operator == "/":
                value /= operand
            else:
                raise CalculatorException(f"unknown operator {operator}")
        return value

    def read(self):
        return input("> ")

    def loop(self):
        line = self.read()
        while line != "quit":
            print(self.eval(line))
            line = self.read()


if __name__ == "__main__":
    Calculator().loop()
