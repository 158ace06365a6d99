// Check digits of Italian tax ids: the partita IVA (11 digits) and the codice fiscale (16 characters, or 11 digits).

/** The partita IVA's Luhn-style check: digits in even places doubled (less 9 above 9), the last digit closes the sum. */
export function isValidPartitaIva(code: string): boolean {
  if (!/^\d{11}$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 10; i += 1) {
    let d = Number(code[i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === Number(code[10]);
}

// Values of characters in odd places (1st, 3rd, …) of a personal codice fiscale, digits and letters alike.
const ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

const charValue = (c: string, odd: boolean): number => {
  const index = /\d/.test(c) ? Number(c) : c.charCodeAt(0) - 65;
  return odd ? ODD[index]! : index;
};

/** A personal codice fiscale (16 characters, last one a check letter), or a company's (11 digits, like a partita IVA). */
export function isValidCodiceFiscale(code: string): boolean {
  if (/^\d{11}$/.test(code)) return isValidPartitaIva(code);
  if (!/^[A-Z0-9]{15}[A-Z]$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 15; i += 1) sum += charValue(code[i]!, i % 2 === 0);
  return String.fromCharCode(65 + (sum % 26)) === code[15];
}
