"""Returns and exchanges at any store, whatever channel the goods were bought in: finding the order, the lines
and grades taken back, their way through the stock ledger, the refund owed and how it is paid, the return
window, and the manager's figures. See the README's "Returns" section for the flow and its states."""
