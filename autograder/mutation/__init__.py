"""`autograder mutants SLUG`: how strong are an assignment's tests? (see :mod:`autograder.mutation.run`)."""
