import type { Rng } from './rng.js';

/**
 * Invented but plausible names for providers, foreign carriers and customers. Any likeness to a
 * real company is accidental; contacts use the reserved `.example` domain.
 */

const NATIONAL_NAMES = [
  'Continental Wireless',
  'AmeriLink Communications',
  'United Voice Systems',
  'Liberty Mobile Networks',
  'Pinnacle Telephone',
  'National Cellular',
  'Keystone Bell',
  'Frontier Crest Communications',
  'Coast to Coast Telecom',
  'Heartland Telephone',
  'Unity Mobile',
  'Allied States Communications',
];
const NATIONAL_SUFFIXES = ['Inc', 'Corp', 'Company', 'LLC'];

const PLACES = [
  'Blue Ridge', 'Lakeshore', 'Summit', 'Cascade', 'Prairie', 'Harbor', 'Red River', 'Granite State', 'Sierra',
  'Palmetto', 'Gulf Coast', 'Great Plains', 'Ozark', 'Piedmont', 'Tidewater', 'Mesa', 'Bayou', 'Keystone', 'Chesapeake',
  'Appalachian', 'Evergreen', 'Sunbelt', 'Magnolia', 'Canyon', 'Lone Star', 'Bluegrass', 'Golden Gate', 'Tri-County',
  'Midwest', 'Northern Lights', 'Sandhills', 'Big Sky', 'Silver State', 'Hudson Valley', 'Twin Rivers', 'Pine Belt',
  'Capital City', 'Desert', 'Coastal', 'Metro', 'First Coast', 'Hill Country', 'High Desert', 'Iron Range', 'Cumberland',
];
const CONCEPTS = [
  'Apex', 'Vertex', 'Nexus', 'Quantum', 'Velocity', 'Clearpath', 'Brightline', 'Ironclad', 'Bluewave', 'Skyline', 'Zenith',
  'Nova', 'Orbit', 'Pulse', 'Signal', 'Vector', 'Crosslink', 'Fusion', 'Everlink', 'Primus', 'Telnexa', 'Voxtel', 'Callpoint',
  'Routewise', 'Netvox', 'Dialtek', 'Connectra', 'Linkwave', 'Voicelogic', 'Sipstream',
];
const CORES: Record<'originating' | 'intermediate' | 'gateway', readonly string[]> = {
  originating: ['Voice', 'Telecom', 'Communications', 'VoIP', 'Telephone', 'Cloud Voice', 'Connect', 'Digital Voice', 'Networks'],
  intermediate: ['Wholesale', 'Carrier Services', 'Telecom', 'Networks', 'Interconnect', 'Transit', 'Communications', 'Voice Exchange'],
  gateway: ['Global Gateway', 'International', 'Interconnect', 'Global Voice', 'World Telecom', 'Intercontinental'],
};
const SUFFIXES = ['LLC', 'LLC', 'LLC', 'Inc', 'Inc', 'Corp', 'Co', 'LP'];

/** Makes names unique within one generation run. */
export class NameBook {
  private readonly used = new Set<string>();

  constructor(private readonly rng: Rng) {}

  private unique(make: () => string): string {
    for (let attempt = 0; attempt < 50; attempt++) {
      const name = make();
      if (!this.used.has(name)) {
        this.used.add(name);
        return name;
      }
    }
    // Fall back to a numbered variant, which is always free eventually.
    const base = make();
    for (let n = 2; ; n++) {
      const name = base.replace(/ (\S+)$/, ` ${n} $1`);
      if (!this.used.has(name)) {
        this.used.add(name);
        return name;
      }
    }
  }

  national(): string {
    return this.unique(() => `${this.rng.pick(NATIONAL_NAMES)} ${this.rng.pick(NATIONAL_SUFFIXES)}`);
  }

  provider(role: 'originating' | 'intermediate' | 'gateway'): string {
    return this.unique(() => {
      const head = this.rng.chance(0.6) ? this.rng.pick(PLACES) : this.rng.pick(CONCEPTS);
      return `${head} ${this.rng.pick(CORES[role])} ${this.rng.pick(SUFFIXES)}`;
    });
  }

  foreign(country: string): string {
    const style = FOREIGN_STYLES[country] ?? FOREIGN_STYLES['GB'];
    if (style === undefined) throw new Error('missing default foreign style');
    return this.unique(() => `${this.rng.pick(style.heads)} ${this.rng.pick(style.cores)} ${this.rng.pick(style.suffixes)}`);
  }

  customer(robocaller: boolean): string {
    const heads = robocaller ? LEAD_HEADS : BUSINESS_HEADS;
    const cores = robocaller ? LEAD_CORES : BUSINESS_CORES;
    return this.unique(() => `${this.rng.pick(heads)} ${this.rng.pick(cores)} ${this.rng.pick(CUSTOMER_SUFFIXES)}`);
  }
}

interface ForeignStyle {
  heads: readonly string[];
  cores: readonly string[];
  suffixes: readonly string[];
}

const FOREIGN_STYLES: Record<string, ForeignStyle> = {
  IN: { heads: ['Mumbai', 'Noida', 'Kolkata', 'Pune', 'Ahmedabad', 'Gurugram', 'Indus', 'Bharat'], cores: ['Telelink', 'Voicenet', 'Infocom', 'Telesolutions', 'Callnet'], suffixes: ['Pvt Ltd', 'Pvt Ltd', 'Ltd'] },
  PH: { heads: ['Manila', 'Cebu', 'Makati', 'Pasig', 'Luzon'], cores: ['Voice Exchange', 'Telecoms', 'Digital Connect', 'Call Systems'], suffixes: ['Inc.', 'Corp.'] },
  PK: { heads: ['Karachi', 'Lahore', 'Indus Valley', 'Punjab'], cores: ['Telecom', 'Communications', 'VoIP Services'], suffixes: ['(Pvt) Ltd'] },
  GB: { heads: ['Thames', 'Albion', 'Pennine', 'Mercia', 'Westminster'], cores: ['Telecom', 'Voice Networks', 'Carrier Services'], suffixes: ['Ltd', 'Limited'] },
  HK: { heads: ['Kowloon', 'Victoria Harbour', 'Pearl River', 'Lantau'], cores: ['Telecom', 'Global Voice', 'Communications'], suffixes: ['Limited', 'Co. Ltd'] },
  DO: { heads: ['Caribe', 'Santo Domingo', 'Quisqueya', 'Hispaniola'], cores: ['Telecom', 'Comunicaciones', 'Voz'], suffixes: ['SRL', 'S.A.'] },
  MX: { heads: ['Tijuana', 'Monterrey', 'Jalisco', 'Baja'], cores: ['Telecomunicaciones', 'Voz y Datos', 'Enlaces'], suffixes: ['S.A. de C.V.'] },
  CA: { heads: ['Laurentian', 'Maple Leaf', 'Prairie North', 'Fraser'], cores: ['Telecom', 'Voice', 'Networks'], suffixes: ['Inc.', 'Ltd.'] },
  BD: { heads: ['Dhaka', 'Chittagong', 'Bengal'], cores: ['Telecom', 'Voice Link', 'IGW'], suffixes: ['Ltd'] },
  AE: { heads: ['Gulf', 'Emirates', 'Jumeirah', 'Dubai Silicon'], cores: ['Telecom', 'Voice Hub', 'Communications'], suffixes: ['FZ-LLC', 'FZE'] },
  NG: { heads: ['Lagos', 'Niger Delta', 'Abuja'], cores: ['Telecoms', 'Voice Services', 'Connect'], suffixes: ['Ltd', 'Nigeria Ltd'] },
  GE: { heads: ['Tbilisi', 'Caucasus', 'Kartli'], cores: ['Telecom', 'Voice', 'Net'], suffixes: ['LLC'] },
};

/** Countries foreign robocall traffic comes from, with relative weights. */
export const FOREIGN_COUNTRIES: readonly { country: string; weight: number }[] = [
  { country: 'IN', weight: 30 },
  { country: 'PH', weight: 10 },
  { country: 'PK', weight: 8 },
  { country: 'GB', weight: 8 },
  { country: 'HK', weight: 6 },
  { country: 'DO', weight: 6 },
  { country: 'MX', weight: 5 },
  { country: 'CA', weight: 5 },
  { country: 'BD', weight: 5 },
  { country: 'AE', weight: 6 },
  { country: 'NG', weight: 4 },
  { country: 'GE', weight: 3 },
];

const LEAD_HEADS = ['Apex', 'Prime', 'Elite', 'Summit', 'Direct', 'Rapid', 'Golden', 'NextGen', 'Pinnacle', 'Velocity', 'Bright', 'Blue Ocean', 'Titan', 'Allied', 'Smart', 'Patriot', 'Liberty', 'Eagle'];
const LEAD_CORES = ['Lead Solutions', 'Outreach Marketing', 'Dialer Services', 'Connect Media', 'Call Center Services', 'Data Marketing', 'Consumer Services', 'Telemarketing', 'Voice Broadcasting', 'Customer Care', 'Benefits Group', 'Auto Protection'];
const BUSINESS_HEADS = ['Harbor', 'Oakwood', 'Riverside', 'Main Street', 'Cedar', 'Westside', 'Lakeview', 'Northgate', 'Sunrise', 'Maple', 'Hilltop', 'Parkside', 'Union', 'Heritage'];
const BUSINESS_CORES = ['Dental Group', 'Family Medicine', 'Insurance Agency', 'Realty', 'Auto Repair', 'Law Office', 'Plumbing', 'Veterinary Clinic', 'Credit Union', 'Accounting', 'Logistics', 'Property Management', 'Pharmacy', 'School District'];
const CUSTOMER_SUFFIXES = ['LLC', 'LLC', 'Inc', 'Corp', 'Group LLC'];

const STREETS = ['Maple Ave', 'Oak St', 'Commerce Blvd', 'Main St', 'Industrial Pkwy', 'Park Ave', 'Lakeside Dr', 'Market St', 'Elm St', 'Corporate Dr', 'Broadway', 'Washington Blvd', 'Sunset Blvd', 'Peachtree Rd', 'Ocean Dr'];
const CITIES: readonly [city: string, state: string, zip: string][] = [
  ['Austin', 'TX', '787'], ['Dallas', 'TX', '752'], ['Houston', 'TX', '770'], ['Miami', 'FL', '331'], ['Tampa', 'FL', '336'],
  ['Orlando', 'FL', '328'], ['Atlanta', 'GA', '303'], ['Phoenix', 'AZ', '850'], ['Las Vegas', 'NV', '891'], ['Los Angeles', 'CA', '900'],
  ['Irvine', 'CA', '926'], ['San Jose', 'CA', '951'], ['Denver', 'CO', '802'], ['Chicago', 'IL', '606'], ['Columbus', 'OH', '432'],
  ['Detroit', 'MI', '482'], ['Newark', 'NJ', '071'], ['New York', 'NY', '100'], ['Brooklyn', 'NY', '112'], ['Philadelphia', 'PA', '191'],
  ['Charlotte', 'NC', '282'], ['Nashville', 'TN', '372'], ['Seattle', 'WA', '981'], ['Portland', 'OR', '972'], ['Salt Lake City', 'UT', '841'],
  ['Boca Raton', 'FL', '334'], ['Wilmington', 'DE', '198'], ['Sheridan', 'WY', '828'], ['Boise', 'ID', '837'], ['Kansas City', 'MO', '641'],
];

/** A US street address. */
export function randomAddress(rng: Rng): string {
  const [city, state, zip] = rng.pick(CITIES);
  const suite = rng.chance(0.5) ? `, Suite ${rng.between(1, 9)}${rng.between(0, 2)}${rng.between(0, 9)}` : '';
  return `${rng.between(100, 9899)} ${rng.pick(STREETS)}${suite}, ${city}, ${state} ${zip}${String(rng.int(100)).padStart(2, '0')}`;
}

/** The state of a random city, for a provider's headquarters. */
export function randomState(rng: Rng): string {
  return rng.pick(CITIES)[1];
}

/** A DNS-label-ish slug of a name: "Blue Ridge Voice LLC" → "blueridgevoice". */
export function slug(name: string): string {
  const words = name
    .toLowerCase()
    .replace(/[^a-z0-9 ]/g, '')
    .split(' ')
    .filter((w) => w !== '' && !['llc', 'inc', 'corp', 'co', 'lp', 'ltd', 'company', 'group'].includes(w));
  return words.join('').slice(0, 40) || 'provider';
}
