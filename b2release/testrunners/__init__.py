"""Test runner adapters and their result files.

runners.py knows the console runners (nunit-console, nunit3-console, xunit.console,
vstest.console, dotnet test): where they are and their command lines. results.py holds
the runner-independent model and reads result files safely; parsers.py reads each native
format (NUnit 2.5/2.6, NUnit 3, xUnit.net v2, TRX); junit.py writes the normalised JUnit
XML. The test stage (`b2release/stages/test.py`) builds the test projects with a
toolchain and runs them through these adapters.
"""
